# Sphinx configuration of the published book (tools/build_book.py copies it into the
# staged source folder beside the lessons and the generated landing page).
# The lessons are shown with the outputs stored in notebooks/NN_topic.ipynb: nothing is
# executed again. Everything the pages need is local: no CDN at build time or when reading,
# except MathJax, which Sphinx adds only to a page that has math (none has today).
import os

project = "Memory, hands-on"
author = "the course's authors"
copyright = "the course's authors, MIT License"

extensions = ["myst_nb"]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# the stored outputs are the book: never run a lesson here
nb_execution_mode = "off"
# stderr is part of the story (glibc's "free(): invalid pointer"): show it, marked
nb_output_stderr = "show"
nb_merge_streams = True
# "$" is a shell prompt or a variable in these lessons, never math
myst_enable_extensions = ["colon_fence", "deflist", "linkify"]
myst_linkify_fuzzy_links = False
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# Widgets: the notebooks carry their saved widget state (HeapMap, the trace stepper, the
# struct layout and the address space views); @jupyter-widgets/html-manager draws it in the
# page. build_book.py takes html-manager and require.js from npm into _static/widgets/, and
# sets BOOK_WIDGETS=off when it could not (then the widget's text form is shown instead).
if os.environ.get("BOOK_WIDGETS", "on") == "on":
    nb_ipywidgets_js = {
        "widgets/require.js": {},
        "widgets/embed-amd.js": {},
    }
else:
    nb_ipywidgets_js = {}
    nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

html_theme = "sphinx_book_theme"
html_title = "Memory, hands-on"
html_static_path = ["_static"]
# names for the saved widgets' controls and pictures (play buttons, slider handles, scrolled
# boxes): html-manager draws them without one; tests/test_book.py runs axe-core on the pages
html_js_files = ["a11y.js"]
html_extra_path = ["_extra"] if os.path.isdir(os.path.join(os.path.dirname(__file__), "_extra")) else []
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": False,
}
