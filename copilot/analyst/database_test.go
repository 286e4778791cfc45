package analyst

import (
	"strings"
	"testing"
)

// TestDatabaseChecksNameLookup: the reachability advice asks for a DNS
// lookup of a host name, never of an address.
func TestDatabaseChecksNameLookup(t *testing.T) {
	for _, tc := range []struct {
		entity string
		lookup bool
	}{
		{"db-prod-1:5432", true},
		{"10.0.0.7:5432", false},
		{"[2001:db8::7]:5432", false},
		{"orders-db.internal:3306", true},
	} {
		d, ok := databaseOf(tc.entity)
		if !ok {
			t.Fatalf("%s: not recognised as a database", tc.entity)
		}
		all := strings.Join(d.checks(tc.entity), "\n")
		if got := strings.Contains(all, "nslookup"); got != tc.lookup {
			t.Errorf("%s: advice mentions nslookup = %v, want %v:\n%s", tc.entity, got, tc.lookup, all)
		}
	}
}
