package httpapi

import (
	"net/http"
)

type slidingBody struct {
	Token string `json:"token"`
}

// slidingObtain is SimpleJWT's TokenObtainSlidingView.
func (s *Server) slidingObtain(w http.ResponseWriter, r *http.Request) error {
	username, pw, err := s.credentials(r)
	if err != nil {
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
	raw, err := s.readField(r, "token")
	if err != nil {
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
