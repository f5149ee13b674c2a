# For users with Docker (the development machines have none; scripts/run is the way there).
FROM debian:12 AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libboost1.81-dev libpqxx-dev libhiredis-dev \
      libnats-dev nlohmann-json3-dev libspdlog-dev libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build -j2

FROM debian:12
RUN apt-get update && apt-get install -y --no-install-recommends \
      libpqxx-6.4 libhiredis0.14 libnats3.4 libspdlog1.10 libssl3 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/projectsignal /usr/local/bin/projectsignal
USER nobody
EXPOSE 8080
ENTRYPOINT ["projectsignal"]
CMD ["serve"]
