"""Delivery: the Gradio chat (``web.chat``), the FastAPI app with the JSON API and the widget
(``web.server``), the CMS documents API (``web.cms``), readers' feedback (``web.feedback``) and
the HTML and terminal rendering of answers (``web.render``). It sits above the answering
pipeline (``bot``) and is used by ``entry``."""
