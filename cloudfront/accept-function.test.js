// Tests of the CloudFront Function, with node's own runner: node --test cloudfront/
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');

const { handler, normaliseAccept } = require('./accept-function.js');

// A viewer-request event as CloudFront Functions (cloudfront-js-2.0) shape it.
function event(acceptValues, querystring) {
    const headers = { host: { value: 'cdn.example.com' } };
    if (acceptValues !== undefined) {
        const values = [].concat(acceptValues);
        headers.accept = { value: values[0] };
        if (values.length > 1) {
            headers.accept.multiValue = values.map((value) => ({ value }));
        }
    }
    return {
        version: '1.0',
        context: { eventType: 'viewer-request' },
        viewer: { ip: '192.0.2.1' },
        request: {
            method: 'GET',
            uri: '/original_images/cat.jpg',
            querystring: querystring || { w: { value: '400' } },
            headers,
            cookies: {},
        },
    };
}

function acceptAfter(acceptValues, querystring) {
    const request = handler(event(acceptValues, querystring));
    return request.headers.accept;
}

test('AVIF wins when accepted, whatever else is listed', () => {
    const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
    assert.deepEqual(acceptAfter(chrome), { value: 'image/avif' });
    assert.deepEqual(acceptAfter('image/webp,image/avif'), { value: 'image/avif' });
});

test('WebP when AVIF is not accepted', () => {
    assert.deepEqual(acceptAfter('image/webp,*/*'), { value: 'image/webp' });
    assert.deepEqual(acceptAfter('image/png,image/webp;q=0.9,*/*;q=0.5'), { value: 'image/webp' });
});

test('no modern format: the header is deleted', () => {
    const safari = 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';
    assert.equal(acceptAfter(safari), undefined);
    assert.equal(acceptAfter('image/jpeg'), undefined);
    assert.equal(acceptAfter('*/*'), undefined);
    assert.equal(acceptAfter('image/*'), undefined, 'wildcards name no format');
    assert.equal(acceptAfter(''), undefined);
});

test('no Accept header at all stays without one', () => {
    const request = handler(event(undefined));
    assert.equal('accept' in request.headers, false);
    assert.deepEqual(request.headers.host, { value: 'cdn.example.com' });
});

test('q=0 refuses a format', () => {
    assert.deepEqual(acceptAfter('image/avif;q=0,image/webp'), { value: 'image/webp' });
    assert.deepEqual(acceptAfter('image/avif;q=0.0,image/webp;q=1'), { value: 'image/webp' });
    assert.equal(acceptAfter('image/avif;q=0,image/webp;q=0.000'), undefined);
    assert.deepEqual(acceptAfter('image/avif;q=0.001'), { value: 'image/avif' });
});

test('q that is no number counts as 0; other parameters are ignored', () => {
    assert.deepEqual(acceptAfter('image/avif;q=high,image/webp'), { value: 'image/webp' });
    assert.deepEqual(acceptAfter('image/avif;q,image/webp'), { value: 'image/webp' });
    assert.deepEqual(acceptAfter('image/avif;level=1;q=0.5'), { value: 'image/avif' });
    assert.deepEqual(acceptAfter('image/avif;foo=bar'), { value: 'image/avif' });
});

test('media types and parameter names are case-insensitive, spaces are ignored', () => {
    assert.deepEqual(acceptAfter('IMAGE/AVIF'), { value: 'image/avif' });
    assert.deepEqual(acceptAfter('Image/WebP ; Q=0.5'), { value: 'image/webp' });
    assert.deepEqual(acceptAfter('  image/avif ;q=0 , image/WEBP  '), { value: 'image/webp' });
});

test('an Accept header sent several times counts as one list', () => {
    assert.deepEqual(acceptAfter(['text/html', 'image/avif']), { value: 'image/avif' });
    assert.deepEqual(acceptAfter(['image/webp', 'image/png']), { value: 'image/webp' });
    assert.deepEqual(acceptAfter(['image/avif;q=0', 'image/webp']), { value: 'image/webp' });
    assert.equal(acceptAfter(['image/png', '*/*']), undefined);
});

test('a near miss is no match', () => {
    assert.equal(acceptAfter('image/avifs,image/webp2,image/x-webp'), undefined);
});

test('with ?fm= the format is fixed: Accept is dropped from the cache key', () => {
    const fixed = { w: { value: '400' }, fm: { value: 'jpg' } };
    assert.equal(acceptAfter('image/avif,image/webp', fixed), undefined);
});

test('the rest of the request is left alone', () => {
    const original = event('image/avif', { w: { value: '400' }, s: { value: 'sig' } });
    const request = handler(original);
    assert.equal(request.uri, '/original_images/cat.jpg');
    assert.equal(request.method, 'GET');
    assert.deepEqual(request.querystring, { w: { value: '400' }, s: { value: 'sig' } });
    assert.deepEqual(request.headers.host, { value: 'cdn.example.com' });
});

test('normaliseAccept works on a plain list of header values', () => {
    assert.equal(normaliseAccept([]), null);
    assert.equal(normaliseAccept(['image/avif']), 'image/avif');
    assert.equal(normaliseAccept(['image/webp']), 'image/webp');
    assert.equal(normaliseAccept(['image/jpeg']), null);
});
