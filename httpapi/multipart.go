package httpapi

import (
	"bytes"
	"mime/multipart"
)

func multipartReader(body []byte, boundary string) *multipart.Reader {
	if boundary == "" {
		return nil
	}
	return multipart.NewReader(bytes.NewReader(body), boundary)
}
