/*
 * What every citizen page (/, /track, /video) runs first: the "大字模式" toggle (the saved
 * preference is applied by text-size.js as soon as it loads) and the `js` class that lets CSS
 * enable JS-only enhancements (e.g. the Chinese file picker).
 *
 * The page's own modules follow: request-form.js and chat.js (/), track.js (/track),
 * /static/video/video.js (/video). Shared helpers: util.js.
 */
import { initTextSizeToggle } from './text-size.js';

document.documentElement.classList.add('js');
initTextSizeToggle();
