package config

import (
	"reflect"
	"sort"
	"strings"
)

// envName maps a key path (api.max_body_bytes) to its environment variable
// (VIGIL_API_MAX_BODY_BYTES).
func envName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// EnvKeys lists every key that an environment variable can override, with
// its variable name, for help text.
func EnvKeys() map[string]string {
	out := map[string]string{}
	cfg := Default()
	walkLeaves(reflect.ValueOf(&cfg).Elem(), "", func(key string, _ reflect.Value) {
		out[key] = envName(key)
	})
	return out
}

// envKeys returns the keys set by environ.
func envKeys(environ []string) map[string]string {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, EnvPrefix) {
			vars[k] = v
		}
	}
	out := map[string]string{}
	for key, name := range EnvKeys() {
		if v, ok := vars[name]; ok {
			out[key] = v
		}
	}
	return out
}

func applyEnv(cfg *Config, environ []string) Errors {
	set := envKeys(environ)
	var errs Errors
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	root := reflect.ValueOf(cfg).Elem()
	for _, key := range keys {
		walkLeaves(root, "", func(k string, v reflect.Value) {
			if k != key {
				return
			}
			if err := setScalar(v, set[key]); err != nil {
				errs = append(errs, &FieldError{Source: "env " + envName(key), Key: key, Msg: err.Error()})
			}
		})
	}
	return errs
}

// walkLeaves calls fn for every scalar setting below v. Lists and maps are
// not reachable from the environment: they need the file.
func walkLeaves(v reflect.Value, prefix string, fn func(key string, v reflect.Value)) {
	if _, ok := v.Addr().Interface().(setter); ok {
		fn(prefix, v)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		t := v.Type()
		for name, i := range structFields(t) {
			walkLeaves(v.Field(i), join(prefix, name), fn)
		}
	case reflect.Slice, reflect.Map:
	default:
		fn(prefix, v)
	}
}
