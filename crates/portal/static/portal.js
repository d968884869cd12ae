// The NHS.UK frontend's progressive enhancements. Everything works without this script:
// without it, "Profile" opens the menu as a page of its own (/profile/menu).
import { initAll } from './nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()

const toggle = document.querySelector('[data-profile-menu-toggle]')
const menu = document.getElementById('profile-menu')
if (toggle && menu) {
  const setOpen = (open) => {
    menu.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
  }
  toggle.setAttribute('aria-controls', 'profile-menu')
  setOpen(false)
  toggle.addEventListener('click', (event) => {
    event.preventDefault()
    setOpen(menu.hidden)
  })
  document.addEventListener('click', (event) => {
    if (!menu.hidden && !menu.contains(event.target) && event.target !== toggle) setOpen(false)
  })
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !menu.hidden) {
      setOpen(false)
      toggle.focus()
    }
  })
}

// "Print the codes": a real button once scripts run; without them the browser's own print works.
for (const button of document.querySelectorAll('[data-print]')) {
  button.hidden = false
  button.addEventListener('click', () => window.print())
}

// Time limits (WCAG 2.2.1): two minutes before the session would end, say so and offer more
// time. The server says how long is left (data-time-left, in seconds); "I need more time"
// asks it to restart the clock and says how long there is now.
const WARN_BEFORE_S = 120
const body = document.body
const main = document.getElementById('maincontent')
let timer = null
const schedule = (secondsLeft) => {
  clearTimeout(timer)
  timer = setTimeout(warn, Math.max(0, secondsLeft - WARN_BEFORE_S) * 1000)
}
const warn = () => {
  if (!main || document.getElementById('time-warning')) return
  const signedIn = body.dataset.timeKind === 'session'
  const box = document.createElement('div')
  box.id = 'time-warning'
  box.className = 'nhsuk-warning-callout'
  box.setAttribute('role', 'alertdialog')
  box.setAttribute('aria-labelledby', 'time-warning-title')
  box.setAttribute('aria-describedby', 'time-warning-text')
  box.tabIndex = -1
  const title = document.createElement('h2')
  title.className = 'nhsuk-warning-callout__label'
  title.id = 'time-warning-title'
  title.textContent = signedIn ? 'You will be signed out soon' : 'Your time to sign in is nearly up'
  const text = document.createElement('p')
  text.id = 'time-warning-text'
  text.textContent = signedIn
    ? 'For your security, we will sign you out in 2 minutes if you do nothing.'
    : 'You have 2 minutes left to finish signing in. After that you will need to enter your password again.'
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'nhsuk-button nhsuk-u-margin-bottom-0'
  button.textContent = signedIn ? 'Stay signed in' : 'I need more time'
  const before = document.activeElement
  button.addEventListener('click', async () => {
    button.disabled = true
    try {
      const response = await fetch('/session/extend', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf_token: body.dataset.timeCsrf || '' })
      })
      const answer = await response.json()
      if (response.ok && answer.seconds_left > WARN_BEFORE_S) {
        box.remove()
        if (before && before !== document.body) before.focus()
        schedule(answer.seconds_left)
        return
      }
      if (response.ok) {
        // The absolute limit (12 hours signed in) cannot be moved: say so once, without a button.
        text.textContent = 'You have been signed in for a long time, so for your security you must sign in again in a few minutes. Save anything you need now.'
        button.remove()
        return
      }
      text.textContent = answer.error || 'We could not give you more time. Save what you need and sign in again.'
    } catch (e) {
      text.textContent = 'We could not reach the service. Check your connection and try again.'
    }
    button.disabled = false
  })
  box.append(title, text, button)
  main.prepend(box)
  box.focus()
}
if (body.dataset.timeLeft) schedule(Number(body.dataset.timeLeft))
