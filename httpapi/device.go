package httpapi

import (
	"strings"
	"unicode/utf8"
)

// deviceName is a session's device as people read it in a list of their
// sessions ("Firefox on Windows", "Safari on iOS", "curl"): the browser and
// system a User-Agent names, else the name of its first product. The raw
// User-Agent stays beside it (user_agent). It reads untrusted text: any
// string gives a short valid one.
func deviceName(ua string) string {
	name := ""
	for _, b := range browsers {
		if strings.Contains(ua, b.marker) {
			name = b.name
			break
		}
	}
	if name == "" {
		name = firstProduct(ua)
	}
	system := ""
	for _, s := range systems {
		if strings.Contains(ua, s.marker) {
			system = s.name
			break
		}
	}
	switch {
	case name == "":
		return system
	case system == "":
		return name
	}
	return name + " on " + system
}

type uaMarker struct{ marker, name string }

// browsers and systems are tried in order: Edge and Opera also say Chrome,
// Chrome also says Safari, Android also says Linux, iOS also says Mac OS X.
var (
	browsers = []uaMarker{
		{"Edg/", "Edge"}, {"EdgiOS/", "Edge"}, {"EdgA/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"Chromium/", "Chromium"},
		{"Version/", "Safari"}, // Safari's own token is shared; Version/ is its
	}
	systems = []uaMarker{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	}
)

// maxProductName bounds a product name taken from a User-Agent.
const maxProductName = 64

// firstProduct is the name of a User-Agent's first product token
// (curl/8.5.0 → curl), unless it is the Mozilla/5.0 every browser starts
// with.
func firstProduct(ua string) string {
	name, _, _ := strings.Cut(strings.TrimSpace(ua), " ")
	name, _, _ = strings.Cut(name, "/")
	if name == "Mozilla" {
		return ""
	}
	if len(name) > maxProductName {
		name = name[:maxProductName]
		for !utf8.ValidString(name) {
			name = name[:len(name)-1]
		}
	}
	return strings.ToValidUTF8(name, "")
}
