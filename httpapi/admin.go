package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/latch-auth/latch"
	"github.com/latch-auth/latch/auth"
)

// Pagination of GET /api/admin/users/, as DRF's PageNumberPagination with
// page_size_query_param = "page_size".
const (
	defaultPageSize = 20
	maxPageSize     = 100
)

// adminRoutes serves the admin API (SPEC §10).
func (s *Server) adminRoutes() {
	s.route("/api/admin/users/", methods{"GET": s.admin(s.adminListUsers), "POST": s.admin(s.adminCreateUser)})
	s.route("/api/admin/users/{id}/", methods{"GET": s.admin(s.adminGetUser), "PATCH": s.admin(s.adminUpdateUser), "DELETE": s.admin(s.adminDeleteUser)})
	s.route("/api/admin/users/{id}/sessions/", methods{"GET": s.admin(s.adminSessions)})
	s.route("/api/admin/users/{id}/logout/", methods{"POST": s.admin(s.adminLogout)})
}

type adminHandler func(w http.ResponseWriter, r *http.Request, p *auth.Principal, a *auth.Admin) error

// admin lets through authenticated callers with the admin role; others
// get DRF's 403.
func (s *Server) admin(h adminHandler) handlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		a, err := s.opts.Auth.Admin(r.Context(), p)
		if err != nil {
			return s.authError(err)
		}
		return h(w, r, p, a)
	})
}

// adminUserBody is a user as the admin API shows it.
type adminUserBody struct {
	ID            int64      `json:"id"`
	Username      string     `json:"username"`
	Email         string     `json:"email"`
	EmailVerified bool       `json:"email_verified"`
	Role          string     `json:"role"`
	IsActive      bool       `json:"is_active"`
	LastLogin     *time.Time `json:"last_login"`
	DateJoined    time.Time  `json:"date_joined"`
}

func adminUser(u *latch.User) adminUserBody {
	b := adminUserBody{ID: u.ID, Username: u.Username, Email: u.Email, EmailVerified: u.EmailVerified,
		Role: u.Role, IsActive: u.IsActive, DateJoined: u.CreatedAt.UTC()}
	if !u.LastLogin.IsZero() {
		t := u.LastLogin.UTC()
		b.LastLogin = &t
	}
	return b
}

type userPageBody struct {
	Count    int64           `json:"count"`
	Next     *string         `json:"next"`
	Previous *string         `json:"previous"`
	Results  []adminUserBody `json:"results"`
}

var errInvalidPage = &apiError{status: http.StatusNotFound, body: detail("Invalid page.")}

func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	q := r.URL.Query()
	size := defaultPageSize
	if n, err := strconv.Atoi(q.Get("page_size")); err == nil && n > 0 {
		size = min(n, maxPageSize) // DRF: a bad page_size is the default, a big one the maximum
	}
	page := 1
	if v := q.Get("page"); v != "" && v != "last" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errInvalidPage
		}
		page = n
	}
	search := strings.TrimSpace(q.Get("search"))
	if strings.IndexByte(search, 0) >= 0 || len(search) > 1024 {
		return &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"search", []string{"Enter a valid search term."}}}}
	}
	filter, err := userFilter(q)
	if err != nil {
		return err
	}
	filter.Search = search
	if q.Get("page") == "last" {
		last := filter
		last.Limit = 1
		_, total, err := a.Users(r.Context(), last)
		if err != nil {
			return err
		}
		page = max(int((total+int64(size)-1)/int64(size)), 1)
	}
	filter.Offset, filter.Limit = (page-1)*size, size
	users, total, err := a.Users(r.Context(), filter)
	if err != nil {
		return err
	}
	if len(users) == 0 && page > 1 {
		return errInvalidPage // DRF: only the first page may be empty
	}
	body := userPageBody{Count: total, Results: make([]adminUserBody, len(users))}
	for i := range users {
		body.Results[i] = adminUser(&users[i])
	}
	if int64(page*size) < total {
		next := pageURL(r, page+1)
		body.Next = &next
	}
	if page > 1 {
		prev := pageURL(r, page-1)
		body.Previous = &prev
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// pageURL is the request's absolute URL at another page, as DRF's
// replace_query_param (and remove_query_param for page 1) build it.
func pageURL(r *http.Request, page int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := r.URL.Query()
	if page == 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(page))
	}
	u := url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}
	return u.String()
}

// userFilter reads the list's filters as django-filter's exact filters
// would: ?role= (the role as stored) and ?is_active= (a boolean; an empty
// value filters nothing).
func userFilter(q url.Values) (latch.UserQuery, error) {
	var f latch.UserQuery
	role := q.Get("role")
	if strings.IndexByte(role, 0) >= 0 || len(role) > maxRole {
		return f, &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"role", []string{"Select a valid choice."}}}}
	}
	f.Role = role
	switch v := strings.ToLower(q.Get("is_active")); v {
	case "":
	case "true", "1", "yes", "on", "y", "t":
		f.Active = new(true)
	case "false", "0", "no", "off", "n", "f":
		f.Active = new(false)
	default:
		return f, &apiError{status: http.StatusBadRequest, body: fieldErrorsBody{{"is_active", []string{"Select a valid choice."}}}}
	}
	return f, nil
}

// userID reads the {id} of an admin path; an id that is not a positive
// number names no user.
func userID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return 0, errNotFound
	}
	return id, nil
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	nu := auth.NewUser{
		Username: f.strMax("username", false, maxUsername),
		Password: f.str("password", false),
		Email:    f.strMax("email", true, maxEmail),
		Role:     f.strMax("role", true, maxRole),
	}
	if active := f.boolean("is_active"); active != nil {
		nu.Inactive = !*active
	}
	if verified := f.boolean("email_verified"); verified != nil {
		nu.EmailVerified = *verified
	}
	if err := f.err(); err != nil {
		return err
	}
	u, err := a.CreateUser(r.Context(), nu)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, adminUser(u))
	return nil
}

func (s *Server) adminGetUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	u, err := a.User(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminUser(u))
	return nil
}

func (s *Server) adminUpdateUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	f, err := s.readForm(r)
	if err != nil {
		return err
	}
	c := auth.UserChange{
		Username: f.present("username", maxUsername, false),
		Email:    f.present("email", maxEmail, true),
		Role:     f.present("role", maxRole, false),
		IsActive: f.boolean("is_active"),
		// The admin vouches for an address, as latch createuser --email.
		EmailVerified: f.boolean("email_verified"),
		Password:      f.present("password", 0, false),
	}
	if err := f.err(); err != nil {
		return err
	}
	u, err := a.UpdateUser(r.Context(), id, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, adminUser(u))
	return nil
}

func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if err := a.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("admin").Inc()
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) adminSessions(w http.ResponseWriter, r *http.Request, p *auth.Principal, a *auth.Admin) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	list, err := a.Sessions(r.Context(), id)
	if err != nil {
		return err
	}
	out := make([]sessionBody, len(list))
	for i, sess := range list {
		out[i] = newSessionBody(sess, p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) adminLogout(w http.ResponseWriter, r *http.Request, _ *auth.Principal, a *auth.Admin) error {
	id, err := userID(r)
	if err != nil {
		return err
	}
	if err := a.LogoutUser(r.Context(), id); err != nil {
		return err
	}
	s.metrics.revocations.WithLabelValues("admin").Inc()
	w.WriteHeader(http.StatusResetContent)
	return nil
}

// maxRole bounds a role name: it travels in every token.
const maxRole = 64

// present reads an optional CharField of a partial update: nil when
// absent; blank is an error unless allowBlank (an email may be cleared).
func (f *form) present(name string, maxLen int, allowBlank bool) *string {
	if _, ok := f.in[name]; !ok {
		return nil
	}
	v := f.strMax(name, allowBlank, maxLen)
	return &v
}

// boolean reads an optional BooleanField as DRF does: nil when absent.
func (f *form) boolean(name string) *bool {
	v, ok := f.in[name]
	if !ok {
		return nil
	}
	var b, valid bool
	switch t := v.(type) {
	case bool:
		b, valid = t, true
	case json.Number:
		b, valid = t.String() == "1", t.String() == "1" || t.String() == "0"
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true", "1", "yes", "on", "y", "t":
			b, valid = true, true
		case "false", "0", "no", "off", "n", "f":
			b, valid = false, true
		}
	}
	if !valid {
		f.fail(name, "Must be a valid boolean.")
		return nil
	}
	return &b
}
