module github.com/k1s0/k1s0-image-action/k1s0_stack/trivy/dbbuilder

go 1.25.0

require go.etcd.io/bbolt v1.5.0

require golang.org/x/sys v0.45.0 // indirect
