// Command-line options of a NATS connection, shared by worker, coordinator and merge --nats.
import type { Command } from 'commander';
import type { NatsOptions } from '@tessera/protocol';

export function natsOptions(cmd: Command, required: boolean): Command {
  const url = '--nats <url>';
  required
    ? cmd.requiredOption(url, 'NATS server URL (nats://host:port)')
    : cmd.option(url, 'NATS server URL (nats://host:port): run the tasks on remote workers');
  return cmd
    .option('--creds <file>', 'NATS credentials file (JWT and nkey)')
    .option('--nats-user <user>', 'NATS user')
    .option('--nats-password <password>', 'NATS password (or env TESSERA_NATS_PASSWORD)')
    .option('--nats-token <token>', 'NATS token (or env TESSERA_NATS_TOKEN)')
    .option('--nats-tls-ca <file>', 'CA bundle of the NATS server')
    .option('--nats-tls-cert <file>', 'client certificate for NATS')
    .option('--nats-tls-key <file>', 'client key for NATS');
}

export interface NatsFlags {
  nats?: string;
  creds?: string;
  natsUser?: string;
  natsPassword?: string;
  natsToken?: string;
  natsTlsCa?: string;
  natsTlsCert?: string;
  natsTlsKey?: string;
}

export function natsConnection(f: NatsFlags): NatsOptions {
  const pass = f.natsPassword ?? process.env.TESSERA_NATS_PASSWORD;
  const token = f.natsToken ?? process.env.TESSERA_NATS_TOKEN;
  return {
    url: f.nats ?? 'nats://127.0.0.1:4222',
    ...(f.creds ? { creds: f.creds } : {}),
    ...(f.natsUser ? { user: f.natsUser, pass: pass ?? '' } : {}),
    ...(token ? { token } : {}),
    ...(f.natsTlsCa ? { tlsCa: f.natsTlsCa } : {}),
    ...(f.natsTlsCert ? { tlsCert: f.natsTlsCert } : {}),
    ...(f.natsTlsKey ? { tlsKey: f.natsTlsKey } : {}),
  };
}
