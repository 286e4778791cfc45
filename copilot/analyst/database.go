package analyst

import (
	"fmt"
	"net"
	"strings"
)

// database is what the analyst knows about an endpoint that turns out to
// be a database: naming it changes the story from "a dependency" to "its
// database", which is what an on-call engineer needs to hear first.
type database struct {
	engine string // PostgreSQL, MySQL, ...
	ping   string // a readiness command with %[1]s host and %[2]s port
}

// dbPorts are the engines' well-known ports.
var dbPorts = map[string]database{
	"5432":  {"PostgreSQL", "pg_isready -h %[1]s -p %[2]s"},
	"3306":  {"MySQL", "mysqladmin -h %[1]s -P %[2]s ping"},
	"6379":  {"Redis", "redis-cli -h %[1]s -p %[2]s ping"},
	"27017": {"MongoDB", "mongosh --host %[1]s --port %[2]s --eval 'db.runCommand({ping: 1})'"},
	"9042":  {"Cassandra", "cqlsh %[1]s %[2]s -e 'SHOW HOST'"},
}

// dbHostWords name the engine from the host name when the port does not.
// Order matters: "mongodb" must be tried before the bare "db".
var dbHostWords = []struct {
	word string
	db   database
}{
	{"postgres", dbPorts["5432"]}, {"pgsql", dbPorts["5432"]}, {"mysql", dbPorts["3306"]},
	{"mariadb", database{"MariaDB", "mysqladmin -h %[1]s -P %[2]s ping"}},
	{"redis", dbPorts["6379"]}, {"mongo", dbPorts["27017"]}, {"cassandra", dbPorts["9042"]},
	{"db", database{"database", ""}},
}

// databaseOf recognises a database endpoint ("host:port" or a bare host).
func databaseOf(entity string) (database, bool) {
	if entity == "" {
		return database{}, false
	}
	host, port, ok := splitHostPort(entity)
	if !ok {
		host = entity
	}
	if d, ok := dbPorts[port]; ok {
		return d, true
	}
	lh := strings.ToLower(host)
	for _, w := range dbHostWords {
		if w.word == "db" {
			if hasDBPart(lh) {
				return w.db, true
			}
			continue
		}
		if strings.Contains(lh, w.word) {
			return w.db, true
		}
	}
	return database{}, false
}

// hasDBPart reports whether a part of the host name (split on . - _ and
// digits) is "db" or ends in it (userdb), without matching words such as
// "dbus" or "sandbox".
func hasDBPart(h string) bool {
	for _, p := range strings.FieldsFunc(h, func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		if p == "db" || (strings.HasSuffix(p, "db") && len(p) > 2) {
			return true
		}
	}
	return false
}

// label is "host:port (Engine)" for the story.
func (d database) label(entity string) string {
	if d.engine == "database" {
		return entity
	}
	return entity + " (" + d.engine + ")"
}

// checks are what to verify first when a database cannot be reached.
func (d database) checks(entity string) []string {
	host, port, ok := splitHostPort(entity)
	if !ok {
		host, port = entity, "<port>"
	}
	name := "the database"
	if d.engine != "database" {
		name = "the database (" + d.engine + ")"
	}
	up := fmt.Sprintf("check that %s is up and accepting connections on %s:%s", name, host, port)
	if d.ping != "" {
		up += ": `" + fmt.Sprintf(d.ping, host, port) + "`"
	}
	up += "; look at its own logs and, for a managed database (RDS, Cloud SQL), its status and maintenance events"
	reach := fmt.Sprintf("check that the database is reachable from the service: `nc -vz %s %s` from the same pod or host; "+
		"look for a network policy, firewall rule or security group blocking port %s", host, port, port)
	// An address needs no name lookup; a name does.
	if net.ParseIP(strings.Trim(host, "[]")) == nil {
		reach += fmt.Sprintf(", and check that %s resolves in DNS (`nslookup %s`)", host, host)
	}
	return []string{up, reach, "check the service's configured database host and port (environment, Secret, connection string) match where the database listens"}
}
