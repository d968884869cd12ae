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
