# The proxy of deploy/compose.yaml: Debian's own nginx (the build the bench and tests run), our config only.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends nginx-light \
    && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
    && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/conf.d/feedlens.conf
EXPOSE 8080
CMD ["nginx", "-g", "daemon off;"]
