/** Every text the widget shows, per locale. `{name}`-style placeholders are filled in by the view. */
const en = {
  open: "Open chat",
  close: "Close chat",
  title: "Chat",
  dialog: "Chat with {name}",
  online: "Online",
  offline: "Away",
  messages: "Messages",
  placeholder: "Write a message…",
  articles: "These articles may help:",
  send: "Send message",
  attach: "Attach a file",
  typing: "{name} is typing…",
  agent: "Agent",
  unread: "{n} unread messages",
  prechatIntro: "Tell us who you are so we can follow up.",
  name: "Name",
  email: "Email",
  start: "Start chat",
  offlineIntro: "We're away right now. Leave your email and we'll get back to you.",
  leaveEmail: "Notify me",
  thanks: "Thanks! We'll reply to {email}.",
  uploading: "Uploading {name}…",
  tooLarge: "That file is too large (max 10 MB).",
  badType: "That file type isn't allowed.",
  failed: "Not sent. Click to retry.",
  error: "Something went wrong. Please try again.",
  queued: "You are number {n} in line, about {min} min.",
  queuedUnknown: "You are number {n} in line. We'll be with you as soon as we can.",
  queueNext: "You're next: an agent will be with you shortly.",
};

export type MessageKey = keyof typeof en;

const zhCN: Record<MessageKey, string> = {
  open: "打开聊天",
  close: "关闭聊天",
  title: "在线咨询",
  dialog: "与 {name} 聊天",
  online: "在线",
  offline: "暂时离开",
  messages: "消息",
  placeholder: "输入消息…",
  articles: "这些文章也许能帮到您：",
  send: "发送消息",
  attach: "添加附件",
  typing: "{name} 正在输入…",
  agent: "客服",
  unread: "{n} 条未读消息",
  prechatIntro: "请留下您的联系方式，方便我们跟进。",
  name: "姓名",
  email: "邮箱",
  start: "开始聊天",
  offlineIntro: "我们暂时不在线。留下您的邮箱，我们会尽快回复您。",
  leaveEmail: "提交",
  thanks: "谢谢！我们会回复到 {email}。",
  uploading: "正在上传 {name}…",
  tooLarge: "文件过大（最大 10 MB）。",
  queued: "您在队列中排第 {n} 位，预计等待约 {min} 分钟。",
  queuedUnknown: "您在队列中排第 {n} 位，我们会尽快为您服务。",
  queueNext: "马上轮到您了，客服即将为您服务。",
  badType: "不支持此文件类型。",
  failed: "发送失败，点击重试。",
  error: "出错了，请稍后重试。",
};

export const catalog = { en, "zh-CN": zhCN };

export type Locale = keyof typeof catalog;

/** Maps any BCP 47 tag to a supported locale: every Chinese variant gets zh-CN, the rest English. */
export function toLocale(tag: string | null | undefined): Locale {
  return tag && /^zh/i.test(tag) ? "zh-CN" : "en";
}
