export * from "./workspace.ts";
export * from "./inbox.ts";
export * from "./contact.ts";
export * from "./conversation.ts";
export * from "./routing.ts";
export * from "./canned.ts";
export * from "./call.ts";
export * from "./email.ts";
