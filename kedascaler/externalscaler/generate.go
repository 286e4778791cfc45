// Package externalscaler holds the Go code generated from
// externalscaler.proto, Vigil's own wording of KEDA's external-scaler gRPC
// protocol (wire-identical to KEDA's: same package, service, messages,
// field names and numbers).
//
// To regenerate after editing the .proto, install protoc (3.21 or later),
// protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.5.1 (go install
// google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 and
// google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1), make sure $GOPATH/bin
// is on PATH, and run `go generate ./kedascaler/externalscaler`.
package externalscaler

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative externalscaler.proto
