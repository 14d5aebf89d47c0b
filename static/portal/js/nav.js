// The navigation's toggle on narrow screens (JupyterHub's stylesheet, without Bootstrap's script).
const toggle = document.getElementById("nav-toggle");
const menu = document.getElementById("portal-nav");
if (toggle && menu) {
  toggle.addEventListener("click", () => {
    const open = menu.classList.toggle("show");
    toggle.setAttribute("aria-expanded", String(open));
  });
}
