# Build: the SQLite projection needs cgo, so build on the Go image (gcc
# included) and run on a glibc base, never scratch.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -ldflags="-s -w" -o /out/pedigree . && mkdir -p /out/data

FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /out/pedigree /usr/local/bin/pedigree
# The runtime image has no shell: make the data directory in the build
# stage and hand it to the unprivileged user here.
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
WORKDIR /data
VOLUME ["/data"]
# HTTP API and dashboard; Raft and forwarding traffic.
EXPOSE 8080 7000
ENTRYPOINT ["/usr/local/bin/pedigree"]
# A single node by default. --bootstrap is idempotent, so a restart with the
# same volume resumes the same ledger. For a cluster, override the command:
# set --node-id, --raft-advertise and --http-advertise to addresses peers can
# reach, and start the other nodes with --join and the admin token.
CMD ["serve", "--bootstrap", "--node-id", "node1", "--data", "/data", \
     "--http-addr", "0.0.0.0:8080", "--http-advertise", "http://127.0.0.1:8080", \
     "--raft-addr", "0.0.0.0:7000", "--raft-advertise", "127.0.0.1:7000"]
