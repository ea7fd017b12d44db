package config

import "encoding/json"

// Encode renders c as the indented JSON document nodes receive. Fields at
// their zero value are left out, so a rendered config stays small and reads
// like a hand-written one.
func (c *Config) Encode() ([]byte, error) {
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
