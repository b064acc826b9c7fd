package passes

import (
	"errors"
	"fmt"
	"html/template"
	"io"
)

// HTMLMarker is how every page WritePage writes begins, so that a later
// run may replace a page it wrote and nothing else (safefile.HTML).
const HTMLMarker = "<!DOCTYPE html>\n<!-- written by deepc: the IR after each pass -->\n"

// WritePage writes the recorded stages as one self-contained HTML page: a
// column per stage, lines new since the previous column highlighted, and
// a click on a value highlighting it, its definition and its uses in
// every column. html/template escapes all IR text.
func (h *HTMLView) WritePage(w io.Writer) error {
	if len(h.stages) == 0 {
		return errors.New("html: no stage was recorded")
	}
	data := pageData{Module: h.module, Func: h.funcName, Pipeline: h.pipeline}
	for _, s := range h.stages {
		data.Columns = append(data.Columns, pageColumnOf(s))
	}
	if _, err := io.WriteString(w, HTMLMarker); err != nil {
		return err
	}
	return pageTemplate.Execute(w, data)
}

type pageData struct {
	Module, Func, Pipeline string
	Columns                []pageColumn
}

type pageColumn struct {
	Title, Note string
	Failed      bool
	Missing     bool
	Lines       []pageLine
}

type pageLine struct {
	Changed bool
	Segs    []pageSeg
}

type pageSeg struct {
	Text  string
	Value int
	Def   bool
}

func pageColumnOf(s htmlStage) pageColumn {
	c := pageColumn{Title: s.title, Failed: s.failed, Missing: s.missing}
	if s.step > 0 {
		c.Title = fmt.Sprintf("%d %s", s.step, s.title)
		c.Note = "no change"
		if s.added+s.removed > 0 {
			c.Note = fmt.Sprintf("+%d −%d lines", s.added, s.removed)
		}
	}
	if s.failed {
		c.Note += ", failed"
	}
	for _, l := range s.lines {
		pl := pageLine{Changed: l.changed}
		for _, sg := range l.segs {
			pl.Segs = append(pl.Segs, pageSeg{Text: sg.text, Value: sg.value, Def: sg.def})
		}
		c.Lines = append(c.Lines, pl)
	}
	return c
}

// The header colour (#1f4e79) is what the screenshot test looks for to
// count columns; the gap between columns keeps their headers apart.
var pageTemplate = template.Must(template.New("page").Parse(`<html lang="en">
<head>
<meta charset="utf-8">
<title>@{{.Func}} of @{{.Module}}: deepc passes</title>
<style>
body { margin: 0; font: 13px sans-serif; color: #222; background: #fff; }
header { padding: 8px 12px; }
header p { margin: 2px 0; color: #555; }
.cols { display: flex; gap: 6px; align-items: flex-start; padding: 0 6px 6px; }
.col { flex: 1 1 0; min-width: 26em; border: 1px solid #bbb; }
.col > h2 { margin: 0; padding: 6px 8px; font-size: 13px; font-weight: normal; background: #1f4e79; color: #fff; cursor: pointer; user-select: none; white-space: nowrap; overflow: hidden; }
.col > h2 b { font-weight: bold; }
.col.failed > h2 { color: #ffb0b0; }
.col.collapsed { flex: 0 0 auto; min-width: 0; }
.col.collapsed > h2 { writing-mode: vertical-rl; padding: 8px 6px; }
.col.collapsed > .code { display: none; }
.code { overflow-x: auto; font: 12px monospace; padding: 4px 0; }
.lines { min-width: 100%; width: max-content; }
.line { white-space: pre; padding: 0 8px; }
.line.changed { background: #fff0a0; }
.missing { padding: 8px; color: #a00; font-style: italic; }
.v { cursor: pointer; border-radius: 2px; }
.v:hover { text-decoration: underline; }
.v.def { font-weight: bold; }
.h0 { background: #ffb3b3; } .h1 { background: #a8e6a3; } .h2 { background: #a9cdf5; }
.h3 { background: #f5c98f; } .h4 { background: #d9b3f5; } .h5 { background: #8fe3e0; }
.def.h0, .def.h1, .def.h2, .def.h3, .def.h4, .def.h5 { outline: 1px solid #333; }
</style>
</head>
<body>
<header>
<b>@{{.Func}}</b> of module @{{.Module}} after each pass of <code>{{.Pipeline}}</code>
<p>Lines new since the column to the left are yellow. Click a value to mark its definition (outlined) and uses in every column; click it again to clear. Click a column's header to fold it.</p>
</header>
<div class="cols">
{{- range .Columns}}
<div class="col{{if .Failed}} failed{{end}}">
<h2 title="{{.Title}}"><b>{{.Title}}</b>{{with .Note}} · {{.}}{{end}}</h2>
<div class="code">
{{- if .Missing}}<div class="missing">no function @{{$.Func}} at this stage</div>{{end}}
<div class="lines">
{{- range .Lines}}
<div class="line{{if .Changed}} changed{{end}}">
{{- range .Segs}}{{if .Value}}<span class="v{{if .Def}} def{{end}}" data-v="{{.Value}}">{{.Text}}</span>{{else}}{{.Text}}{{end}}{{end -}}
</div>
{{- end}}
</div>
</div>
</div>
{{- end}}
</div>
<script>
(function () {
  var colours = 6, next = 0, chosen = {};

  function paint(id) {
    var els = document.querySelectorAll('[data-v="' + id + '"]');
    for (var i = 0; i < els.length; i++) {
      for (var c = 0; c < colours; c++) els[i].classList.remove('h' + c);
      if (id in chosen) els[i].classList.add('h' + chosen[id]);
    }
  }

  function toggle(id) {
    if (id in chosen) {
      delete chosen[id];
    } else {
      chosen[id] = next;
      next = (next + 1) % colours;
    }
    paint(id);
  }

  // The marked values live in the address (#v=3,17) so that a reload or a
  // shared link shows the same marks.
  function remember() {
    var ids = Object.keys(chosen);
    try {
      history.replaceState(null, '', ids.length ? '#v=' + ids.join(',') : location.pathname);
    } catch (e) {}
  }

  document.addEventListener('click', function (e) {
    var v = e.target.closest('[data-v]');
    if (v) {
      toggle(v.getAttribute('data-v'));
      remember();
      return;
    }
    var h = e.target.closest('.col > h2');
    if (h) h.parentNode.classList.toggle('collapsed');
  });

  var m = /^#v=([0-9,]+)$/.exec(location.hash);
  if (m) m[1].split(',').forEach(function (id) { if (id) toggle(id); });
})();
</script>
</body>
</html>
`))
