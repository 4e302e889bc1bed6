// The Jupyter widgets HTML manager typesets math in widget labels with
// MathJax 2's `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`; the book
// loads MathJax 3, which has no Hub. Translate those calls to MathJax 3.
(function () {
  if (!window.MathJax || window.MathJax.Hub) {
    return;
  }
  window.MathJax.Hub = {
    Queue: function () {
      Array.prototype.forEach.call(arguments, function (command) {
        if (Array.isArray(command) && command[0] === "Typeset" && command[2]) {
          var startup = window.MathJax.startup;
          var ready = startup && startup.promise ? startup.promise : Promise.resolve();
          ready.then(function () {
            if (window.MathJax.typesetPromise) {
              return window.MathJax.typesetPromise([command[2]]);
            }
          });
        }
      });
    },
  };
})();
