import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { storageConfig } from '../config/configuration.js';
import { DATABASE, DATABASE_HANDLE, type DatabaseHandle, openPglite, openPostgres } from './database.js';

@Global()
@Module({
  providers: [
    {
      provide: DATABASE_HANDLE,
      inject: [storageConfig.KEY],
      useFactory: async (storage: ConfigType<typeof storageConfig>): Promise<DatabaseHandle> => {
        const logger = new Logger('Database');
        if (storage.databaseUrl) {
          const handle = await openPostgres(storage.databaseUrl);
          logger.log('Connected to PostgreSQL; migrations applied');
          return handle;
        }
        const handle = await openPglite(storage.dataDir);
        logger.log(`Using embedded PGlite in ${storage.dataDir}; migrations applied`);
        return handle;
      },
    },
    { provide: DATABASE, inject: [DATABASE_HANDLE], useFactory: (handle: DatabaseHandle) => handle.db },
  ],
  exports: [DATABASE, DATABASE_HANDLE],
})
export class DatabaseModule implements OnApplicationShutdown {
  constructor(@Inject(DATABASE_HANDLE) private readonly handle: DatabaseHandle) {}

  async onApplicationShutdown(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}
