// Writes the files of protocol/ and ladders/ that are generated from the TypeScript definitions
// (`npm run protocol`); test/unit/protocol.test.ts fails while they are not current.
import { writeFileAtomic } from '../src/files.ts';
import { generatedFiles } from '../src/commands/generated.ts';

for (const [file, text] of Object.entries(generatedFiles())) {
  writeFileAtomic(file, text);
  console.log(file);
}
