import { useEffect, useState } from "react";

/**
 * Hash routes (`#/inbox/mine/<conversationId>`, `#/tickets/open/<ticketId>`, `#/wallboard`, `#/forecast/what-if`, `#/admin/queues`,
 * `#/invite/<token>`): the server serves one page and any deep link survives a reload.
 */
export type Route =
  | { page: "inbox"; view: string; conversationId: string | null }
  | { page: "tickets"; view: string; ticketId: string | null }
  | { page: "wallboard" }
  | { page: "reports" }
  | { page: "forecast"; tab: string }
  | { page: "admin"; tab: string }
  | { page: "knowledge"; articleId: string | null }
  | { page: "invite"; token: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] === "wallboard") return { page: "wallboard" };
  if (parts[0] === "reports") return { page: "reports" };
  if (parts[0] === "forecast") return { page: "forecast", tab: parts[1] ?? "forecast" };
  if (parts[0] === "knowledge") return { page: "knowledge", articleId: parts[1] ?? null };
  if (parts[0] === "admin") return { page: "admin", tab: parts[1] ?? "inboxes" };
  if (parts[0] === "tickets") return { page: "tickets", view: parts[1] ?? "mine", ticketId: parts[2] ?? null };
  if (parts[0] === "invite" && parts[1]) return { page: "invite", token: parts[1] };
  return { page: "inbox", view: parts[1] ?? "mine", conversationId: parts[2] ?? null };
}

export function href(route: Route) {
  switch (route.page) {
    case "inbox":
      return `#/inbox/${encodeURIComponent(route.view)}${route.conversationId ? `/${route.conversationId}` : ""}`;
    case "tickets":
      return `#/tickets/${encodeURIComponent(route.view)}${route.ticketId ? `/${route.ticketId}` : ""}`;
    case "wallboard":
      return "#/wallboard";
    case "reports":
      return "#/reports";
    case "forecast":
      return route.tab === "forecast" ? "#/forecast" : `#/forecast/${route.tab}`;
    case "admin":
      return `#/admin/${route.tab}`;
    case "knowledge":
      return `#/knowledge${route.articleId ? `/${route.articleId}` : ""}`;
    case "invite":
      return `#/invite/${route.token}`;
  }
}

export function navigate(route: Route) {
  location.hash = href(route);
}

export function useRoute() {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
