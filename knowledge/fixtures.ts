/**
 * A small real knowledge base in both languages: the contract tests search it and the demo seeds it.
 * Written as a shop's support team would write them.
 */
export const SAMPLE_ARTICLES = [
  {
    key: "refund-en",
    locale: "en",
    title: "How to get a refund",
    summary:
      "Request a refund within 30 days from your order page; the money goes back to the original payment method.",
    tags: ["refund", "payment"],
    body: "## Requesting a refund\n\nOpen **My orders**, choose the order and click *Request refund*. You can ask for a refund within 30 days of delivery.\n\n## When will I get my money?\n\nRefunds are paid back to the original payment method within 3–5 business days after we receive the returned item.",
  },
  {
    key: "refund-zh",
    locale: "zh-CN",
    title: "如何申请退款",
    summary: "签收后 30 天内可在订单详情页申请退款，款项原路退回。",
    tags: ["退款", "支付"],
    body: "## 申请退款\n\n进入“我的订单”，选择对应订单，点击“申请退款”。签收后 30 天内均可申请。\n\n## 多久到账？\n\n我们收到退回的商品后，退款将在 3 到 5 个工作日内原路退回您的支付账户。",
  },
  {
    key: "order-status-zh",
    locale: "zh-CN",
    title: "订单状态查询",
    summary: "在“我的订单”页面随时查看订单的发货和物流进度。",
    tags: ["订单", "物流"],
    body: "登录后进入“我的订单”，即可查询每个订单的当前状态：待付款、待发货、已发货、已签收。\n\n已发货的订单可以点击“查看物流”查询快递单号和配送进度。",
  },
  {
    key: "order-status-en",
    locale: "en",
    title: "Where is my order? Tracking your order status",
    summary: "See whether your order is paid, shipped or delivered, and follow the parcel.",
    tags: ["order", "shipping"],
    body: "Sign in and open **My orders** to see the status of every order: awaiting payment, preparing, shipped or delivered.\n\nFor shipped orders, click *Track parcel* to follow the delivery with the carrier's tracking number.",
  },
  {
    key: "address-en",
    locale: "en",
    title: "Changing the delivery address",
    summary: "You can change where an order is delivered until it ships.",
    tags: ["address", "shipping"],
    body: "Until your order ships you can change the delivery address: open **My orders**, choose the order and click *Edit address*.\n\nOnce the parcel has shipped, contact us and we will ask the carrier to redirect it.",
  },
  {
    key: "address-zh",
    locale: "zh-CN",
    title: "修改收货地址",
    summary: "订单发货前可以随时修改收货地址。",
    tags: ["地址", "物流"],
    body: "订单发货前，进入“我的订单”，选择订单后点击“修改地址”即可更改收货地址。\n\n如果包裹已经发出，请联系客服，我们会协助联系快递公司改派。",
  },
] as const;

export type SampleKey = (typeof SAMPLE_ARTICLES)[number]["key"];
