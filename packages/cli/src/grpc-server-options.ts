// The options of the commands that serve gRPC (coordinator, planner serve): address, bearer
// token and TLS, declared once.
import type { GrpcOptions } from '@tessera/coordinator';
import type { Command } from 'commander';

export interface GrpcServerFlags {
  grpc: string;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
}

export function grpcServerOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--grpc <host:port>', 'address of the gRPC server')
    .option('--token <token>', 'bearer token every gRPC call must carry (or env TESSERA_TOKEN)')
    .option('--tls-cert <file>', 'TLS certificate of the gRPC server')
    .option('--tls-key <file>', 'TLS key of the gRPC server')
    .option('--tls-client-ca <file>', 'require client certificates signed by this CA');
}

export function grpcOptionsOf(flags: GrpcServerFlags): GrpcOptions {
  const token = flags.token ?? process.env.TESSERA_TOKEN;
  return {
    listen: flags.grpc,
    ...(token ? { token } : {}),
    ...(flags.tlsCert ? { tlsCert: flags.tlsCert } : {}),
    ...(flags.tlsKey ? { tlsKey: flags.tlsKey } : {}),
    ...(flags.tlsClientCa ? { tlsClientCa: flags.tlsClientCa } : {}),
  };
}
