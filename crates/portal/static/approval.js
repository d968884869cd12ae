// Waits for the person to answer the call or approve the push: polls the approval's status and,
// once it is no longer what the page shows, presses the page's "Continue" button. Without
// JavaScript the button works too. A form may name its own status URL, the status it waits
// in (`data-waiting-for`) and how often to ask (`data-poll-ms`).
const form = document.querySelector('[data-approval-form]')
if (form) {
  const url = form.dataset.statusUrl || '/approvals/current'
  const waitingFor = form.dataset.waitingFor || 'pending'
  const every = Number(form.dataset.pollMs) || 2000
  const poll = async () => {
    try {
      const response = await fetch(url, { credentials: 'same-origin', cache: 'no-store' })
      if (response.ok) {
        const { status, seconds_left: left } = await response.json()
        const warning = form.querySelector('[data-call-warning]')
        if (warning && typeof left === 'number' && left <= 20) warning.hidden = false
        if (status !== waitingFor) {
          form.requestSubmit()
          return
        }
      }
    } catch (e) {
      // Network hiccup: try again shortly.
    }
    setTimeout(poll, every)
  }
  setTimeout(poll, every)
}
