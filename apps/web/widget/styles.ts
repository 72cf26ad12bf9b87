/**
 * The widget's stylesheet, scoped by its shadow root. `:host { all: initial !important }` stops the
 * host page's inherited fonts and colours at the boundary; an inner !important wins over the page's.
 */
export const styles = `
:host{all:initial!important}
:host([data-state=error]){display:none!important}
.sb{--sb-accent:#2563eb;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","Source Han Sans SC",sans-serif;color:#111827}
*{box-sizing:border-box}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit}
button{cursor:pointer;border:0;background:none;padding:0}
svg{width:24px;height:24px;fill:currentColor}
.bubble{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;background:var(--sb-accent);color:#fff;display:grid;place-items:center;box-shadow:0 4px 16px rgba(0,0,0,.25)}
.bubble[aria-expanded=true] .i-chat,.bubble[aria-expanded=false] .i-close{display:none}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#dc2626;color:#fff;font-size:12px;font-weight:600;line-height:20px;text-align:center}
.panel{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;height:min(600px,calc(100vh - 108px));display:flex;flex-direction:column;background:#fff;border-radius:12px;overflow:hidden;box-shadow:0 8px 32px rgba(0,0,0,.2)}
header{display:flex;align-items:center;gap:8px;padding:14px 16px;background:var(--sb-accent);color:#fff}
header div{flex:1;min-width:0}
h2{margin:0;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.status{margin:0;font-size:12px;opacity:.9}
.status:before{content:"";display:inline-block;width:8px;height:8px;margin-right:6px;border-radius:50%;background:#9ca3af}
.status.on:before{background:#22c55e}
.scroll{flex:1;overflow-y:auto;padding:12px 16px;background:#f9fafb}
ol{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}
.msg,.greeting{max-width:80%;display:flex;flex-direction:column;align-self:flex-start;align-items:flex-start;gap:2px}
.greeting{margin-bottom:8px}
.in{align-self:flex-end;align-items:flex-end}
.who,time{font-size:11px;color:#6b7280}
.text{padding:8px 12px;border-radius:12px;background:#e5e7eb;white-space:pre-wrap;overflow-wrap:anywhere}
.in .text{background:var(--sb-accent);color:#fff}
.in .text a{color:inherit}
.pending{opacity:.6}
.failed .text{background:#fee2e2;color:#991b1b}
.retry{font-size:11px;color:#b91c1c;text-decoration:underline}
.files{display:flex;flex-direction:column;gap:4px}
.files img{display:block;max-width:200px;max-height:160px;border-radius:8px}
a{color:var(--sb-accent);overflow-wrap:anywhere}
.typing{margin:0;padding:4px 16px;font-size:12px;color:#6b7280;background:#f9fafb}
.callbar{display:flex;flex-wrap:wrap;align-items:center;gap:8px;padding:8px 16px;background:#ecfdf5;color:#065f46;font-size:13px}
.callbar p{flex:1;margin:0;min-width:0}
.callbar button{padding:6px 10px;border-radius:8px;font-weight:600;background:#fff;border:1px solid #d1d5db}
.callbar .hang{background:#dc2626;color:#fff;border-color:#dc2626}
.callbar .take{background:#16a34a;color:#fff;border-color:#16a34a}
.notice{margin:0;padding:8px 16px;font-size:13px;background:#fef3c7;color:#92400e}
.thanks{background:#dcfce7;color:#166534}
form{display:flex;gap:8px;padding:10px 12px;border-top:1px solid #e5e7eb}
.card{flex-direction:column;background:#fff}
.card p{margin:0}
input{padding:8px 10px;border:1px solid #d1d5db;border-radius:8px}
textarea{flex:1;resize:none;border:0;max-height:120px;padding:8px 0}
textarea:focus-visible{outline:0}
.composer:focus-within{border-top-color:var(--sb-accent)}
.row{display:flex;gap:8px}
.row input{flex:1;min-width:0}
.primary{padding:8px 12px;border-radius:8px;background:var(--sb-accent);color:#fff;font-weight:600}
.icon{color:#6b7280;align-self:flex-end;padding:6px}
.icon:hover,.icon:focus-visible{color:var(--sb-accent)}
header .icon,header .icon:hover{color:#fff;align-self:center}
.icon svg{width:22px;height:22px}
:focus-visible{outline:2px solid var(--sb-accent);outline-offset:2px}
.articles{border-top:1px solid #e4e7eb;padding:6px 12px;max-height:40%;overflow-y:auto;font-size:13px}
.articles-title{margin:0 0 4px;color:#52606d}
.survey{border-top:1px solid #e4e7eb;padding:8px 16px;background:#f8fafc}
.survey-question{margin:0 0 4px;font-weight:600}
.survey-scale{display:flex;gap:4px;margin-bottom:6px}
.survey-choice{font-size:24px;line-height:1;color:#cbd2d9;padding:2px}
.stars .survey-choice[aria-pressed=true]{color:#f59e0b}
.thumbs .survey-choice{filter:grayscale(1);opacity:.6}.thumbs .survey-choice[aria-pressed=true]{filter:none;opacity:1}
.survey-comment{width:100%;resize:none;border:1px solid #cbd2d9;border-radius:6px;padding:4px 8px}
.survey-send{margin-top:4px;padding:4px 12px;border-radius:6px;background:var(--sb-accent);color:#fff}
.survey-send:disabled{opacity:.5;cursor:default}.survey-thanks{margin:0;color:#047857}.survey-error{margin:4px 0 0;color:#b91c1c}
.articles ul{list-style:none;margin:0;padding:0}
.articles li{display:grid;padding:3px 0}
.articles li span{color:#616e7c}
@media (max-width:480px){
.panel{inset:0;width:100%;height:100%;border-radius:0}
.open .bubble{display:none}
}
`;
