# syntax=docker/dockerfile:1
# imgproc and ml_mock in one image: `imgproc gateway|worker|serve|migrate` and `ml_mock`.
# Build: docker build --network host -t imgproc .   (docker-compose.yml does this for you)

# --- Build stage: the compiler and -dev packages, the shipped binaries only (no tests) ---------
FROM debian:bookworm-slim AS build
COPY scripts/packages.txt /tmp/packages.txt
# The build section of scripts/packages.txt, everything above the line "# tests".
RUN set -eu; \
    packages="$(sed -n '1,/^# tests/p' /tmp/packages.txt | grep -Ev '^\s*(#|$)')"; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $packages; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY metrics metrics
COPY core core
COPY db db
COPY actors actors
COPY http http
COPY dashboard dashboard
COPY ml_mock ml_mock
COPY app app
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
          -DIMGPROC_BUILD_TESTS=OFF -DIMGPROC_BUILD_BENCH=OFF \
    && cmake --build /build --target imgproc ml_mock \
    && strip /build/bin/imgproc /build/bin/ml_mock

# --- Runtime stage: the shared libraries the binaries load, curl for the health check ---------
FROM debian:bookworm-slim AS runtime
# The runtime packages of the -dev packages above, and opencv-data (the cascades the local
# detectors read, in /usr/share/opencv4). The service decodes and encodes JPEG and PNG
# with libjpeg-turbo and libpng itself, so OpenCV's imgcodecs (which pulls GDAL, GDCM, OpenEXR,
# HDF5 and Poppler) is not installed. libopencv-core406 still drags in the Mesa GL stack (whose
# drivers pull LLVM and Z3): the packages no binary here links are removed again; the ldd check
# below fails the build if one of them was needed after all. README.md, "Run with Docker", lists
# the largest that remain.
ARG UNUSED_PACKAGES="libllvm15 libz3-4 libgl1-mesa-dri proj-data gdal-data libperl5.36 \
    perl-modules-5.36"
RUN set -eu; \
    apt-get update -q; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 libssl3 \
        libfmt9 libhttp-parser2.9 libpqxx-6.4 libpq5 \
        libopencv-core406 libopencv-imgproc406 libopencv-objdetect406 opencv-data \
        libjpeg62-turbo libpng16-16 \
        libcurl4 libprometheus-cpp-core1.0 curl ca-certificates; \
    for package in $UNUSED_PACKAGES; do \
        if dpkg -s "$package" >/dev/null 2>&1; then dpkg --purge --force-depends "$package"; fi; \
    done; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* /usr/share/man/*; \
    useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent imgproc
COPY --from=build /build/bin/imgproc /build/bin/ml_mock /usr/local/bin/
RUN set -eu; \
    missing="$(ldd /usr/local/bin/imgproc /usr/local/bin/ml_mock /usr/bin/curl | grep 'not found' || true)"; \
    if [ -n "$missing" ]; then echo "missing libraries: $missing" >&2; exit 1; fi; \
    imgproc --help >/dev/null; ml_mock --help >/dev/null
USER imgproc
# Every option is also an environment variable (imgproc COMMAND --help). Listen on all
# interfaces inside the container; the cluster port too, so workers in other containers join.
ENV IMGPROC_HOST=0.0.0.0 \
    IMGPROC_PORT=8000 \
    IMGPROC_CLUSTER_HOST=0.0.0.0
EXPOSE 8000 4242 5000
# Liveness of the HTTP front-end (gateway, serve). ml_mock and workers get their own in
# docker-compose.yml. HEALTH_URL overrides the address the check calls.
HEALTHCHECK --interval=5s --timeout=3s --start-period=60s --retries=3 \
    CMD curl -fsS "${HEALTH_URL:-http://127.0.0.1:${IMGPROC_PORT}/health}" >/dev/null || exit 1
ENTRYPOINT []
CMD ["imgproc", "serve"]
