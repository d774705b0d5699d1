// CloudFront Function (runtime cloudfront-js-2.0), viewer-request event.
//
// Reduces the viewer's Accept header to one of three values, so a cache key
// that includes Accept holds at most three entries per URL:
//
//   accepts image/avif (q > 0)               -> Accept: image/avif
//   else accepts image/webp (q > 0)          -> Accept: image/webp
//   else                                     -> no Accept header at all
//
// The proxy negotiates from Accept exactly so: AVIF, else WebP, else the
// source's family (JPEG, or PNG with alpha), counting only media types named
// explicitly with q > 0 (image/* and */* do not count). We delete the header
// rather than set a fixed value: without Accept the proxy picks the source's
// family, which is what any other value would lead to.
//
// The same decision as the proxy's, on the raw header: case-insensitive, a
// header sent several times counts as one list, parameters after ";" are read
// for q only, and a q that is not a plain decimal number counts as 0 (the
// proxy's Python float() would also read "inf" or "1_0"; no browser sends them).
//
// One more reduction: when the URL names the format (?fm=...), the proxy
// ignores Accept and sends no Vary, so the header is deleted there too and all
// browsers share one cached copy.
//
// No require() and no module.exports at run time; the last line only lets
// node's test runner load this file (see accept-function.test.js).

var AVIF = 'image/avif';
var WEBP = 'image/webp';
var DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/;

function qValue(raw) {
    var text = raw.trim();
    return DECIMAL.test(text) ? Number(text) : 0;
}

// The normalised Accept value for a list of raw header values, or null.
function normaliseAccept(values) {
    var accepted = {};
    for (var i = 0; i < values.length; i++) {
        var items = String(values[i]).toLowerCase().split(',');
        for (var j = 0; j < items.length; j++) {
            var parts = items[j].trim().split(';');
            var q = 1;
            for (var k = 1; k < parts.length; k++) {
                var param = parts[k].trim();
                var eq = param.indexOf('=');
                var name = eq < 0 ? param : param.slice(0, eq);
                if (name === 'q') {
                    q = qValue(eq < 0 ? '' : param.slice(eq + 1));
                }
            }
            if (q > 0) {
                accepted[parts[0].trim()] = true;
            }
        }
    }
    if (accepted[AVIF]) {
        return AVIF;
    }
    if (accepted[WEBP]) {
        return WEBP;
    }
    return null;
}

// Every value of a header or query parameter from the event's object form.
function allValues(field) {
    if (!field) {
        return [];
    }
    if (field.multiValue && field.multiValue.length) {
        return field.multiValue.map(function (entry) { return entry.value; });
    }
    return [field.value];
}

function handler(event) {
    var request = event.request;
    var headers = request.headers;
    var query = request.querystring || {};
    var normalised = query.fm ? null : normaliseAccept(allValues(headers.accept));
    if (normalised === null) {
        delete headers.accept;
    } else {
        headers.accept = { value: normalised };
    }
    return request;
}

if (typeof module !== 'undefined') module.exports = { handler: handler, normaliseAccept: normaliseAccept };
