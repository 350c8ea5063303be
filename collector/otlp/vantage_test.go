package otlp

// byGroup returns the values of points by their icmp.group attribute.
func byGroup(pts []point) map[string]float64 {
	m := make(map[string]float64, len(pts))
	for _, p := range pts {
		m[p.attrs["icmp.group"]] = p.value
	}
	return m
}
