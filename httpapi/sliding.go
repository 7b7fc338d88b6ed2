package httpapi

import (
	"net/http"
)

type slidingBody struct {
	Token string `json:"token"`
}

// slidingObtain is SimpleJWT's TokenObtainSlidingView.
func (s *Server) slidingObtain(w http.ResponseWriter, r *http.Request) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	username, pw := f.str("username", false), f.str("password", false)
	if err := f.err(); err != nil {
		return err
	}
	tok, err := s.opts.Auth.LoginSliding(r.Context(), username, pw, s.client(r))
	s.metrics.logins.WithLabelValues(result(err)).Inc()
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, slidingBody{tok})
	return nil
}

// slidingRefresh is SimpleJWT's TokenRefreshSlidingView.
func (s *Server) slidingRefresh(w http.ResponseWriter, r *http.Request) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	raw := f.str("token", false)
	if err := f.err(); err != nil {
		return err
	}
	tok, err := s.opts.Auth.RefreshSliding(r.Context(), raw)
	s.metrics.refreshes.WithLabelValues(result(err)).Inc()
	if err != nil {
		return err
	}
	noStore(w)
	writeJSON(w, http.StatusOK, slidingBody{tok})
	return nil
}
