// Command dbbuilder writes a Trivy vulnerability database (schema 2: trivy.db, a bbolt file, plus
// metadata.json) from the project's fixture advisories, so scans work without downloading Trivy's DB.
//
// Usage: dbbuilder -fixture fixture-db.json -out <cache-dir>/db
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The bucket layout is trivy-db's (pkg/db): "<release>" -> <package> -> <vuln id> = advisory,
// "vulnerability" -> <vuln id> = details, "data-source" -> "<release>" = source.
const (
	schemaVersion       = 2
	vulnerabilityBucket = "vulnerability"
	dataSourceBucket    = "data-source"
	severitySource      = "nvd"
)

type fixture struct {
	Release    string          `json:"release"`
	DataSource json.RawMessage `json:"data_source"`
	Advisories []advisory      `json:"advisories"`
}

type advisory struct {
	ID           string   `json:"id"`
	Package      string   `json:"package"`
	FixedVersion string   `json:"fixed_version"`
	Severity     string   `json:"severity"`
	Score        float64  `json:"cvss_v3_score"`
	Vector       string   `json:"cvss_v3_vector"`
	CWE          []string `json:"cwe"`
	Title        string   `json:"title"`
	Description  string   `json:"description"`
}

var severities = map[string]int{"UNKNOWN": 0, "LOW": 1, "MEDIUM": 2, "HIGH": 3, "CRITICAL": 4}

type dbAdvisory struct {
	FixedVersion string `json:",omitempty"`
}

type cvss struct {
	V3Vector string  `json:"V3Vector,omitempty"`
	V3Score  float64 `json:"V3Score,omitempty"`
}

type vulnerability struct {
	Title            string          `json:",omitempty"`
	Description      string          `json:",omitempty"`
	Severity         string          `json:",omitempty"`
	CweIDs           []string        `json:",omitempty"`
	VendorSeverity   map[string]int  `json:",omitempty"`
	CVSS             map[string]cvss `json:",omitempty"`
	References       []string        `json:",omitempty"`
	PublishedDate    *time.Time      `json:",omitempty"`
	LastModifiedDate *time.Time      `json:",omitempty"`
}

type metadata struct {
	Version      int
	NextUpdate   time.Time
	UpdatedAt    time.Time
	DownloadedAt time.Time
}

func main() {
	fixturePath := flag.String("fixture", "", "fixture advisories (JSON)")
	out := flag.String("out", "", "output directory (<trivy cache dir>/db)")
	flag.Parse()
	if *fixturePath == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := build(*fixturePath, *out); err != nil {
		fmt.Fprintln(os.Stderr, "dbbuilder:", err)
		os.Exit(1)
	}
}

func build(fixturePath, out string) error {
	raw, err := os.ReadFile(fixturePath)
	if err != nil {
		return err
	}
	var fx fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		return fmt.Errorf("%s: %w", fixturePath, err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	dbPath := filepath.Join(out, "trivy.db")
	tmp := dbPath + ".tmp"
	_ = os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	published := time.Date(2099, 1, 15, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		if err := put(tx, []string{dataSourceBucket}, fx.Release, fx.DataSource); err != nil {
			return err
		}
		for _, adv := range fx.Advisories {
			sev, ok := severities[adv.Severity]
			if !ok {
				return fmt.Errorf("%s: unknown severity %q", adv.ID, adv.Severity)
			}
			if err := put(tx, []string{fx.Release, adv.Package}, adv.ID, dbAdvisory{FixedVersion: adv.FixedVersion}); err != nil {
				return err
			}
			vuln := vulnerability{
				Title:            adv.Title,
				Description:      adv.Description,
				Severity:         adv.Severity,
				CweIDs:           adv.CWE,
				VendorSeverity:   map[string]int{severitySource: sev},
				CVSS:             map[string]cvss{severitySource: {V3Vector: adv.Vector, V3Score: adv.Score}},
				References:       []string{"https://k1s0.invalid/advisories/" + adv.ID},
				PublishedDate:    &published,
				LastModifiedDate: &published,
			}
			if err := put(tx, []string{vulnerabilityBucket}, adv.ID, vuln); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return err
	}
	// NextUpdate far ahead: Trivy never considers the fixture DB stale.
	now := time.Now().UTC().Truncate(time.Second)
	meta, err := json.Marshal(metadata{
		Version:      schemaVersion,
		NextUpdate:   now.AddDate(10, 0, 0),
		UpdatedAt:    now,
		DownloadedAt: now,
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "metadata.json"), meta, 0o644)
}

func put(tx *bolt.Tx, buckets []string, key string, value any) error {
	bkt, err := tx.CreateBucketIfNotExists([]byte(buckets[0]))
	if err != nil {
		return err
	}
	for _, name := range buckets[1:] {
		if bkt, err = bkt.CreateBucketIfNotExists([]byte(name)); err != nil {
			return err
		}
	}
	var data []byte
	if raw, ok := value.(json.RawMessage); ok {
		data = raw
	} else if data, err = json.Marshal(value); err != nil {
		return err
	}
	return bkt.Put([]byte(key), data)
}
