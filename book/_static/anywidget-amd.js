// anywidget's front end for the static book. The lessons' heap maps are anywidgets
// (labsupport/widgets/heapfront.py): their drawing code is their own ES module, saved with the
// widget's state (the `_esm` trait, its style in `_css`). @jupyter-widgets/html-manager asks
// requirejs for the module "anywidget" before any CDN (embed-amd.js, its requireLoader), so this
// named module draws a saved AnyModel from the page itself: the widget's module is imported
// from a blob: URL and its render() given the saved model. Nothing is loaded from another host;
// messages to a kernel (model.send) go nowhere, so the picture is the step it was saved at.
define("anywidget", ["@jupyter-widgets/base"], function (base) {
  "use strict";
  const styled = new Set();

  class AnyModel extends base.DOMWidgetModel {}

  class AnyView extends base.DOMWidgetView {
    render() {
      const model = this.model;
      const css = model.get("_css");
      const id = model.get("_anywidget_id") || "";
      if (css && !styled.has(id)) {
        styled.add(id);
        const style = document.createElement("style");
        style.textContent = css;
        document.head.appendChild(style);
      }
      const facade = {
        get: (name) => model.get(name),
        set: (name, value) => model.set(name, value),
        on: (name, fn) => model.on(name, fn),
        off: (name, fn) => model.off(name, fn),
        send: () => {},
        save_changes: () => {},
        widget_manager: model.widget_manager,
      };
      const url = URL.createObjectURL(new Blob([model.get("_esm") || ""], { type: "text/javascript" }));
      return import(url).then((mod) => {
        const widget = mod.default || mod;
        const render = widget.render || mod.render;
        return render ? render({ model: facade, el: this.el }) : undefined;
      }).finally(() => URL.revokeObjectURL(url));
    }
  }

  return { AnyModel, AnyView };
});
