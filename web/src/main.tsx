import { render } from 'preact'
import { App } from './views/App.js'
import { openSession } from './session.js'
import './style.css'

render(<App session={openSession()} />, document.getElementById('app')!)
