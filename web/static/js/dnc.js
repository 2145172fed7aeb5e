// «Больше не звонить»: taking a number off the list lets campaigns call it again, so the page asks first.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
