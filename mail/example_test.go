package mail_test

import (
	"fmt"

	"github.com/latch-auth/latch/mail"
)

// Rendering a password reset message from the embedded templates (pass a
// directory to LoadTemplates to replace some of them).
func ExampleTemplates_Render() {
	tpl, err := mail.LoadTemplates("")
	if err != nil {
		panic(err)
	}
	m, err := tpl.Render(mail.PasswordReset, "alice@example.com", mail.Data{
		Username: "alice", Email: "alice@example.com",
		Link: "https://app.example/reset/MQ/abc/", Expires: "1 hour",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.To)
	fmt.Println(m.Subject)
	// Output:
	// alice@example.com
	// Password reset for alice
}
