#!/bin/sh
# Render resize-proxy.conf.template to stdout, with defaults for the optional
# settings. Only the NGINX_* names below are substituted; nginx's own
# $variables are left as they are.
#
#   NGINX_SERVER_NAME=img-origin.example.com \
#   NGINX_TLS_CERT=/etc/ssl/img-origin/fullchain.pem \
#   NGINX_TLS_KEY=/etc/ssl/img-origin/privkey.pem \
#   NGINX_UPSTREAMS_FILE=/etc/nginx/resize-proxy-upstreams.conf \
#   nginx/render.sh > /etc/nginx/conf.d/resize-proxy.conf && nginx -t && nginx -s reload
set -eu

: "${NGINX_SERVER_NAME:?set NGINX_SERVER_NAME (the origin host name; _ for any)}"
: "${NGINX_TLS_CERT:?set NGINX_TLS_CERT (PEM certificate chain path)}"
: "${NGINX_TLS_KEY:?set NGINX_TLS_KEY (PEM private key path)}"
: "${NGINX_UPSTREAMS_FILE:?set NGINX_UPSTREAMS_FILE (file of server lines, see upstreams.conf.example)}"
: "${NGINX_LISTEN:=443}"
: "${NGINX_CLIENT_MAX_BODY_SIZE:=40m}"
: "${NGINX_PROXY_CACHE:=off}"
: "${NGINX_CACHE_DIR:=/var/cache/nginx-resize-proxy}"
: "${NGINX_CACHE_MAX_SIZE:=10g}"
: "${NGINX_ACCESS_LOG:=/var/log/nginx/resize-proxy.access.log}"

case "$NGINX_PROXY_CACHE" in
    off | hot_variants) ;;
    *) echo "NGINX_PROXY_CACHE must be off or hot_variants" >&2; exit 2 ;;
esac

export NGINX_SERVER_NAME NGINX_TLS_CERT NGINX_TLS_KEY NGINX_UPSTREAMS_FILE NGINX_LISTEN \
    NGINX_CLIENT_MAX_BODY_SIZE NGINX_PROXY_CACHE NGINX_CACHE_DIR NGINX_CACHE_MAX_SIZE \
    NGINX_ACCESS_LOG

template="${1:-$(dirname "$0")/resize-proxy.conf.template}"
# shellcheck disable=SC2016 # the list is for envsubst, not for the shell
exec envsubst '${NGINX_SERVER_NAME} ${NGINX_TLS_CERT} ${NGINX_TLS_KEY} ${NGINX_UPSTREAMS_FILE}
${NGINX_LISTEN} ${NGINX_CLIENT_MAX_BODY_SIZE} ${NGINX_PROXY_CACHE} ${NGINX_CACHE_DIR}
${NGINX_CACHE_MAX_SIZE} ${NGINX_ACCESS_LOG}' < "$template"
