# bandercheck as a container image: a static binary on an empty base, run as
# an unprivileged user. Build from the repository root:
#   docker build -t bandercheck .      (or podman, buildah, kaniko)
# The build command is the one the tests run (deploy/deploy_test.go checks it).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/bandercheck ./cmd/bandercheck

FROM scratch
# the CA roots, for an S3 endpoint and an upstream over HTTPS
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/bandercheck /bandercheck
USER 65532:65532
ENTRYPOINT ["/bandercheck"]
