import type { Config } from "../../platform/config.ts";
import { TooManyRequests, Unauthorized } from "../../platform/errors.ts";
import { RateLimiter, Semaphore } from "../../platform/rate-limit.ts";

/**
 * Limits on password sign-in that stop guessing without handing an attacker a way to lock a user out:
 * - per client IP, every attempt (each costs an argon2id verification, whichever account it names);
 * - per (account, IP), failed attempts only: guessing from one address stops there, while the user
 *   signing in from their own address is not affected;
 * - per account from everywhere, failed attempts only, with a high ceiling: a botnet spread over many
 *   addresses is slowed too, at a cost an attacker cannot reach with a handful of addresses;
 * - at most LOGIN_CONCURRENT_HASHES verifications at once, a short queue behind them, and a quick 429
 *   beyond it, so a flood of sign-ins cannot take every core from the rest of the product.
 * Per node, like the widget's limits: N nodes allow N times the rate, still bounded.
 */
export class SignInGuard {
  private readonly perIp: RateLimiter;
  private readonly perAccountIp: RateLimiter;
  private readonly perAccount: RateLimiter;
  private readonly hashing: Semaphore;

  constructor(limits: Config["login"]) {
    this.perIp = new RateLimiter(limits.ipPerMinute, limits.ipPerMinute / 60);
    this.perAccountIp = new RateLimiter(limits.accountIpFailuresPerHour, limits.accountIpFailuresPerHour / 3600);
    this.perAccount = new RateLimiter(limits.accountFailuresPerHour, limits.accountFailuresPerHour / 3600);
    this.hashing = new Semaphore(limits.concurrentHashes, limits.concurrentHashes * 8);
  }

  /** Runs one sign-in attempt (`verify` throws `Unauthorized` for a wrong email or password). */
  async attempt<T>(ip: string, email: string, verify: () => Promise<T>): Promise<T> {
    const account = email.trim().toLowerCase();
    const pair = `${account}\n${ip}`;
    const wait = this.perIp.take(ip) || this.perAccountIp.wait(pair) || this.perAccount.wait(account);
    if (wait) throw new TooManyRequests(wait);
    try {
      return await this.hashing.run(verify);
    } catch (err) {
      if (err instanceof Unauthorized) {
        this.perAccountIp.take(pair);
        this.perAccount.take(account);
      }
      throw err;
    }
  }
}
