import { IvrFlow } from "./flow.ts";

/**
 * The demo's IVR (and the tests' starting point): a welcome, a menu by key or by spoken keyword in
 * Chinese or English, refunds to the billing queue with priority, everything else to the general one.
 */
export function exampleFlow(queues: { refunds: string; general: string }): IvrFlow {
  return IvrFlow.parse({
    start: "welcome",
    language: "zh-CN",
    nodes: {
      welcome: {
        type: "say",
        text: { "zh-CN": "感谢致电 Switchboard 演示商店。", en: "Thank you for calling the Switchboard demo shop." },
        next: "menu",
      },
      menu: {
        type: "gather",
        prompt: {
          "zh-CN": "退款请按1或说“退款”；查询订单请按2或说“查询订单”；留言请按3；人工服务请按0。For English, press 9.",
          en: "For refunds press 1 or say refund. For order status press 2 or say order status. To leave a message press 3. For an agent press 0.",
        },
        branches: [
          { digits: "1", keywords: ["退款", "refund"], next: "billing" },
          { digits: "2", keywords: ["查询订单", "订单", "order status", "order"], next: "orders" },
          { digits: "3", keywords: ["留言", "message"], next: "message" },
          { digits: "0", keywords: ["人工", "客服", "agent", "human"], next: "general" },
          { digits: "9", language: "en", next: "menu" },
        ],
        fallback: "general",
      },
      billing: {
        type: "set",
        skills: [{ skill: "billing", minLevel: 2 }],
        priority: 5,
        attributes: { topic: "refund" },
        next: "refunds_queue",
      },
      orders: { type: "set", attributes: { topic: "order status" }, next: "general" },
      refunds_queue: { type: "enqueue", queueId: queues.refunds },
      general: { type: "enqueue", queueId: queues.general },
      message: {
        type: "voicemail",
        prompt: { "zh-CN": "请留下您的姓名、电话和问题。", en: "Please leave your name, number and question." },
      },
    },
  });
}
