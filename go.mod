module github.com/goleudy/goleudy

go 1.26

require (
	github.com/secure-systems-lab/go-securesystemslib v0.11.1
	go.uber.org/goleak v1.3.0
)

require (
	github.com/miekg/dns v1.1.73 // indirect
	golang.org/x/crypto v0.55.0 // indirect
	golang.org/x/net v0.57.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
)
