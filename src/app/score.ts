// score: the exposure systemd-analyze security gives a unit (in this process).
import { z } from 'zod';
import { parseUnitName } from '../core/unitName.js';
import { schemaParser, type UseCase } from './useCase.js';

const schema = z.object({ unit: z.string().transform((u) => parseUnitName(u)) });
export type ScoreRequest = z.output<typeof schema>;
export interface ScoreResult {
  unit: string;
  exposure: number;
}

export const SCORE: UseCase<'score', ScoreRequest, ScoreResult> = {
  name: 'score',
  parse: schemaParser(schema),
};
