package rca

import (
	"testing"
)

// The loaders read files from outside: every parser must return an error
// or a value for any input, never panic, and bound what it keeps.

func FuzzParseSockShop(f *testing.F) {
	f.Add([]byte("time,carts_cpu,carts_mem,carts_lat_50\n1,0.5,100,0.1\n2,0.6,101,0.1\n3,0.5,100,0.2\n"),
		[]byte("time,carts_cpu,carts_mem,carts_lat_50\n10,5,100,0.1\n11,6,101,0.3\n"))
	f.Add([]byte("time\n"), []byte(""))
	f.Add([]byte("time,a_cpu\n1,\"x\n"), []byte("time,a_cpu\n1e99,NaN\n"))
	f.Fuzz(func(t *testing.T, normal, anom []byte) {
		in, err := ParseSockShop(normal, anom)
		if err != nil {
			return
		}
		for _, s := range in.Series {
			if s.Service == "" || s.Kind == "" {
				t.Fatalf("series without service or kind: %+v", s)
			}
		}
	})
}

func FuzzParsePetShopMetrics(f *testing.F) {
	f.Add([]byte("microservice,a,b\nmetric,latency,requests\nstatistic,p50,Sum\nunix_timestamp,,\n1681857120.0,0.1,5\n1681857420.0,,6\n"))
	f.Add([]byte("microservice\nmetric\nstatistic\n"))
	f.Add([]byte("x,y\n1,2\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, w, err := ParsePetShopMetrics(data)
		if err != nil {
			return
		}
		if !w.End.After(w.Start) {
			t.Fatalf("window %v with %d series", w, len(ss))
		}
	})
}

func FuzzParsePetShopGraph(f *testing.F) {
	f.Add([]byte(",a,b\na,0.0,1.0\nb,0.0,0.0\n"))
	f.Add([]byte(",a\n"))
	f.Add([]byte("a,b,c\nx,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		edges, err := ParsePetShopGraph(data)
		if err == nil && len(edges) == 0 {
			t.Fatal("no error and no edges")
		}
	})
}

func FuzzParsePetShopTarget(f *testing.F) {
	f.Add([]byte(`{"target": {"node": "PetSite", "metric": "latency", "agg": "Average", "timestamp": 1681857605}, "root_cause": {"node": "x", "metric": null}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"target": {"node": "a", "timestamp": -1}, "root_cause": {"node": "b"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tg, err := ParsePetShopTarget(data)
		if err == nil && (tg.Target.Node == "" || tg.RootCause.Node == "") {
			t.Fatalf("accepted %+v", tg)
		}
	})
}

func FuzzParseNezhaFaults(f *testing.F) {
	f.Add([]byte(`{"03": [{"inject_time": "2022-08-22 03:53:54", "inject_timestamp": "1661140434", "inject_pod": "frontend-579b9bff58-t2dbm", "inject_type": "cpu_contention"}]}`))
	f.Add([]byte(`{"03": [{}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := ParseNezhaFaults(data)
		if err != nil {
			return
		}
		for _, x := range fs {
			if x.InjectTime == "" || x.Pod == "" {
				t.Fatalf("accepted %+v", x)
			}
		}
	})
}

func FuzzParseNezhaMetrics(f *testing.F) {
	f.Add([]byte("Time,TimeStamp,PodName,CpuUsageRate(%),PodServerLatencyP90(s),NodeCpuUsageRate(%)\nx,1661140279,cartservice-579f59597d-wc2lz,9.4,0.004,12\n"))
	f.Add([]byte("time,timestamp,frontend_cartservice\nx,1661140279,0.003\n"))
	f.Add([]byte("Source,Target,Weight\nfrontend,cartservice,1\ncartservice,33.33.33.80,1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss := newSeriesSet()
		_ = parseNezhaPodMetrics(data, ss)
		_ = parseNezhaFront(data, ss)
		_ = parseNezhaEdges(data, "source", ss)
		_, _ = parseNezhaDependencies(data)
		for _, s := range ss.out {
			if s.Service == "" && s.Kind == "" {
				t.Fatalf("empty series %+v", s)
			}
		}
	})
}
