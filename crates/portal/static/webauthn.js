// Security keys and passkeys (WebAuthn): the only script the product needs. It fetches options from the
// server, asks the browser to use the key, and posts the answer back; the server checks it.
const b64urlToBytes = (text) => {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const padded = base64 + '='.repeat((4 - (base64.length % 4)) % 4)
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
}
const bytesToB64url = (buffer) => {
  let binary = ''
  for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

const post = async (url, fields) => {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields)
  })
  const body = await response.json().catch(() => ({}))
  if (!response.ok) throw new Error(body.error || 'Your security key could not be used. Try again.')
  return body
}

const showError = (box, message) => {
  const error = box.querySelector('[data-webauthn-error]')
  if (error) {
    error.textContent = message
    error.hidden = false
    error.setAttribute('role', 'alert')
  }
}

const register = async (box) => {
  const fields = { csrf_token: box.dataset.csrf }
  const options = await post(box.dataset.optionsUrl, fields)
  const pk = options.publicKey
  pk.challenge = b64urlToBytes(pk.challenge)
  pk.user.id = b64urlToBytes(pk.user.id)
  for (const c of pk.excludeCredentials || []) c.id = b64urlToBytes(c.id)
  const credential = await navigator.credentials.create({ publicKey: pk })
  const answer = {
    id: credential.id,
    rawId: bytesToB64url(credential.rawId),
    type: credential.type,
    response: {
      attestationObject: bytesToB64url(credential.response.attestationObject),
      clientDataJSON: bytesToB64url(credential.response.clientDataJSON),
      transports: credential.response.getTransports ? credential.response.getTransports() : []
    },
    extensions: credential.getClientExtensionResults()
  }
  const nameField = document.getElementById('name')
  const done = await post(box.dataset.finishUrl, {
    ...fields,
    name: nameField ? nameField.value : '',
    credential: JSON.stringify(answer)
  })
  window.location.assign(done.redirect)
}

const authenticate = async (box, mediation, signal) => {
  const fields = { csrf_token: box.dataset.csrf }
  if (box.dataset.method) fields.method = box.dataset.method
  const options = await post(box.dataset.optionsUrl, fields)
  const pk = options.publicKey
  pk.challenge = b64urlToBytes(pk.challenge)
  for (const c of pk.allowCredentials || []) c.id = b64urlToBytes(c.id)
  const request = { publicKey: pk }
  if (mediation) request.mediation = mediation
  if (signal) request.signal = signal
  const assertion = await navigator.credentials.get(request)
  const answer = {
    id: assertion.id,
    rawId: bytesToB64url(assertion.rawId),
    type: assertion.type,
    response: {
      authenticatorData: bytesToB64url(assertion.response.authenticatorData),
      clientDataJSON: bytesToB64url(assertion.response.clientDataJSON),
      signature: bytesToB64url(assertion.response.signature),
      userHandle: assertion.response.userHandle ? bytesToB64url(assertion.response.userHandle) : null
    },
    extensions: assertion.getClientExtensionResults()
  }
  // A passkey sign-in carries its sealed challenge and where to go next.
  if (options.ticket) fields.ticket = options.ticket
  if (box.dataset.next !== undefined) fields.next = box.dataset.next
  const done = await post(box.dataset.finishUrl, { ...fields, credential: JSON.stringify(answer) })
  window.location.assign(done.redirect)
}

const failed = (box, e) => showError(box, e && e.name === 'NotAllowedError'
  ? 'The security key or passkey was not used, or the request timed out. Try again.'
  : (e && e.message) || 'Your security key could not be used. Try again.')

// Passkey autofill (conditional mediation): the browser offers the portal's passkeys in the
// email field's suggestions; choosing one signs in. The button aborts it and asks outright,
// since a browser takes one request at a time.
let autofill = null
const offerAutofill = async (box) => {
  if (!window.PublicKeyCredential || !PublicKeyCredential.isConditionalMediationAvailable) return
  if (!(await PublicKeyCredential.isConditionalMediationAvailable())) return
  autofill = new AbortController()
  try {
    await authenticate(box, 'conditional', autofill.signal)
  } catch (e) {
    if (e && e.name !== 'AbortError') failed(box, e)
  }
}

for (const [selector, ceremony] of [['[data-webauthn-register]', register], ['[data-webauthn-authenticate]', authenticate]]) {
  const box = document.querySelector(selector)
  if (!box) continue
  const button = box.querySelector('[data-webauthn-button]')
  if (box.dataset.passkey !== undefined) {
    // Without WebAuthn in the browser, the passkey button stays hidden.
    if (!window.PublicKeyCredential) continue
    box.hidden = false
    offerAutofill(box)
  }
  button.addEventListener('click', async () => {
    button.disabled = true
    if (autofill) autofill.abort()
    try {
      await ceremony(box)
    } catch (e) {
      failed(box, e)
      button.disabled = false
    }
  })
}
