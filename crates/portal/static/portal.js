// The NHS.UK frontend's progressive enhancements. Everything works without this script.
import { initAll } from './nhsuk-frontend.min.js'

document.body.classList.add('js-enabled', 'nhsuk-frontend-supported')
initAll()

// Close the Profile menu when focus or a click goes elsewhere, or on Escape.
const menu = document.querySelector('.portal-profile-menu')
if (menu) {
  document.addEventListener('click', (event) => {
    if (!menu.contains(event.target)) menu.open = false
  })
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && menu.open) {
      menu.open = false
      menu.querySelector('summary').focus()
    }
  })
}
