// A loan posted with one field misspelt (`amout`): with batch records typed by their model
// (`additionalProperties: false`), tsc --strict must refuse this file and name the field.
import { eaglet } from "./usage";

export async function postMisspelt(borrower: string) {
  return eaglet("http://localhost:8000", "egk_example").POST("/finance/v1/loans/batch", {
    body: {
      records: [
        {
          loan_ref: "TS-0002",
          borrower_credit_code: borrower,
          borrower_name: "杭州测试科技有限公司",
          borrower_size: "small",
          product: "credit",
          amout: "1000000.00",
          annual_rate: "4.35",
          issued_on: "2022-03-01",
          matures_on: "2023-03-01",
          renewal_type: "new",
          is_first_loan: false,
          outstanding_balance: "1000000.00",
          status: "outstanding",
        },
      ],
    },
  });
}
