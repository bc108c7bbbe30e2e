// The CDK app (see cdk.json): `npx cdk synth -c env=dev|staging|prod`.
import { buildApp } from '../lib/infra/app.ts';

buildApp().app.synth();
