// Waits for the person to answer the call: polls the approval's status and, once it is no
// longer pending, presses the page's "Continue" button. Without JavaScript the button works too.
const form = document.querySelector('[data-approval-form]')
if (form) {
  const poll = async () => {
    try {
      const response = await fetch('/approvals/current', { credentials: 'same-origin', cache: 'no-store' })
      if (response.ok) {
        const { status, seconds_left: left } = await response.json()
        const warning = form.querySelector('[data-call-warning]')
        if (warning && typeof left === 'number' && left <= 20) warning.hidden = false
        if (status !== 'pending') {
          form.requestSubmit()
          return
        }
      }
    } catch (e) {
      // Network hiccup: try again shortly.
    }
    setTimeout(poll, 2000)
  }
  setTimeout(poll, 2000)
}
