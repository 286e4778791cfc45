package kedascaler

import (
	"context"
	"errors"
	"math"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vigilops/vigil/kedascaler/externalscaler"
)

// Register adds the external-scaler service to a gRPC server.
func (s *Scaler) Register(gs grpc.ServiceRegistrar) {
	externalscaler.RegisterExternalScalerServer(gs, s)
}

var _ externalscaler.ExternalScalerServer = (*Scaler)(nil)

// IsActive reports whether the served value exceeds the object's
// activation threshold.
func (s *Scaler) IsActive(ctx context.Context, ref *externalscaler.ScaledObjectRef) (resp *externalscaler.IsActiveResponse, err error) {
	defer func() { s.countRPC("IsActive", err) }()
	if ref == nil {
		return nil, status.Error(codes.InvalidArgument, "scaled object ref is missing")
	}
	dec, err := s.Evaluate(ctx, ref.Namespace, ref.Name, ref.ScalerMetadata)
	if err != nil {
		return nil, toStatus(err)
	}
	return &externalscaler.IsActiveResponse{Result: dec.Active}, nil
}

// GetMetricSpec returns the object's metric name and target per replica.
// It does not evaluate: KEDA calls it when it builds the HPA, before any
// history may exist.
func (s *Scaler) GetMetricSpec(ctx context.Context, ref *externalscaler.ScaledObjectRef) (resp *externalscaler.GetMetricSpecResponse, err error) {
	defer func() { s.countRPC("GetMetricSpec", err) }()
	if ref == nil {
		return nil, status.Error(codes.InvalidArgument, "scaled object ref is missing")
	}
	spec, err := ParseMetadata(ref.ScalerMetadata, s.opts.MaxHistoryPoints)
	if err != nil {
		return nil, toStatus(err)
	}
	return &externalscaler.GetMetricSpecResponse{MetricSpecs: []*externalscaler.MetricSpec{{
		MetricName:      spec.MetricName,
		TargetSize:      max(1, int64(math.Round(spec.TargetValue))),
		TargetSizeFloat: spec.TargetValue,
	}}}, nil
}

// GetMetrics returns the value to serve. The value is reported under the
// metric name KEDA asked for (KEDA prefixes the names it got from
// GetMetricSpec), or the object's own name when none was given.
func (s *Scaler) GetMetrics(ctx context.Context, req *externalscaler.GetMetricsRequest) (resp *externalscaler.GetMetricsResponse, err error) {
	defer func() { s.countRPC("GetMetrics", err) }()
	if req == nil || req.ScaledObjectRef == nil {
		return nil, status.Error(codes.InvalidArgument, "scaled object ref is missing")
	}
	ref := req.ScaledObjectRef
	dec, err := s.Evaluate(ctx, ref.Namespace, ref.Name, ref.ScalerMetadata)
	if err != nil {
		return nil, toStatus(err)
	}
	name := req.MetricName
	if name == "" {
		// Evaluate parsed the metadata already; this cannot fail.
		spec, _ := ParseMetadata(ref.ScalerMetadata, s.opts.MaxHistoryPoints)
		name = spec.MetricName
	}
	return &externalscaler.GetMetricsResponse{MetricValues: []*externalscaler.MetricValue{{
		MetricName:       name,
		MetricValue:      int64(math.Round(min(dec.Value, math.MaxInt64/2))),
		MetricValueFloat: dec.Value,
	}}}, nil
}

// StreamIsActive sends the activity verdict at once, then re-evaluates
// every Options.StreamInterval and sends again only when the verdict
// changed, until the client goes away. Bad metadata ends the stream at
// once with InvalidArgument; a failed evaluation later is logged and
// retried at the next tick, since KEDA would only reopen the stream.
func (s *Scaler) StreamIsActive(ref *externalscaler.ScaledObjectRef, stream externalscaler.ExternalScaler_StreamIsActiveServer) (err error) {
	defer func() { s.countRPC("StreamIsActive", err) }()
	if ref == nil {
		return status.Error(codes.InvalidArgument, "scaled object ref is missing")
	}
	ctx := stream.Context()
	s.m.streams.Inc()
	defer s.m.streams.Dec()

	dec, err := s.Evaluate(ctx, ref.Namespace, ref.Name, ref.ScalerMetadata)
	if err != nil {
		return toStatus(err)
	}
	last := dec.Active
	if err := stream.Send(&externalscaler.IsActiveResponse{Result: last}); err != nil {
		return err
	}
	tick := time.NewTicker(s.opts.StreamInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		dec, err := s.Evaluate(ctx, ref.Namespace, ref.Name, ref.ScalerMetadata)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			s.opts.Logger.Warn("kedascaler stream evaluation", "namespace", ref.Namespace, "name", ref.Name, "err", err)
			continue
		}
		if dec.Active == last {
			continue
		}
		last = dec.Active
		if err := stream.Send(&externalscaler.IsActiveResponse{Result: last}); err != nil {
			return err
		}
	}
}

// toStatus maps evaluation errors to gRPC codes: the caller's metadata is
// InvalidArgument (the message names the key), an empty history NotFound,
// a cancelled call its context code, anything else Unavailable (KEDA then
// applies the ScaledObject's fallback).
func toStatus(err error) error {
	switch {
	case errIsMetadata(err):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrNoData):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, err.Error())
}

func (s *Scaler) countRPC(method string, err error) {
	s.m.rpcs.WithLabelValues(method, status.Code(err).String()).Inc()
}
