import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { request, session } from "./client.ts";
import type { Inbox, Me, Person, Queue, Team } from "./model.ts";
import { Realtime, type Frame } from "./realtime.ts";

/** What every screen of a signed-in user shares: who they are, the socket, and the workspace's names. */
export type Workspace = {
  me: Me;
  realtime: Realtime;
  users: Person[];
  teams: Team[];
  queues: Queue[];
  inboxes: Inbox[];
  reload(): Promise<void>;
};
const WorkspaceContext = createContext<Workspace | null>(null);

export function useWorkspace() {
  const ctx = useContext(WorkspaceContext);
  if (!ctx) throw new Error("useWorkspace outside a signed-in app");
  return ctx;
}

/** Subscribes to realtime frames for the life of the component. */
export function useFrames(fn: (f: Frame) => void, deps: unknown[]) {
  const { realtime } = useWorkspace();
  const handler = useCallback(fn, deps);
  useEffect(() => realtime.on(handler), [realtime, handler]);
}

/** Opens the socket and loads the workspace's names for a signed-in user. */
export function WorkspaceProvider({ me, children }: { me: Me; children: ReactNode }) {
  const realtime = useMemo(() => new Realtime(session.token!), []);
  const [names, setNames] = useState<Pick<Workspace, "users" | "teams" | "queues" | "inboxes">>({
    users: [],
    teams: [],
    queues: [],
    inboxes: [],
  });
  const reload = useCallback(async () => {
    const list = <T,>(path: string) =>
      request<{ items: T[] }>(path)
        .then((r) => r.items)
        .catch(() => [] as T[]);
    const [users, teams, queues, inboxes] = await Promise.all([
      list<Person>("/users"),
      list<Team>("/teams"),
      list<Queue>("/queues"),
      list<Inbox>("/inboxes"),
    ]);
    setNames({ users, teams, queues, inboxes });
  }, []);
  useEffect(() => {
    realtime.start();
    void reload();
    return () => realtime.stop();
  }, [realtime, reload]);
  const workspace = useMemo(() => ({ me, realtime, ...names, reload }), [me, realtime, names, reload]);
  return <WorkspaceContext.Provider value={workspace}>{children}</WorkspaceContext.Provider>;
}
